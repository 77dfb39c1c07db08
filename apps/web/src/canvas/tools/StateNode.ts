// A tool is a tiny hierarchical state machine (tldraw's StateNode, pared down): a ToolSpec
// declares the tool's states as data, the ToolNode built from it forwards events to the current
// state, and every tool rests in the shared Idle and returns to it on cancel. Pointer handling
// lives here, never in React components.
import { type Vec, dist } from '../geometry';
import type { Editor } from '../editor';
import type { KeyInfo } from '../../app/keys';

export type { KeyInfo } from '../../app/keys';

/** Pixels of pointer travel before a press becomes a drag. */
export const DRAG_THRESHOLD_PX = 3;

export interface PointerInfo {
  /** CSS px relative to the canvas container. */
  readonly screen: Vec;
  /** Frame pixels. */
  readonly image: Vec;
  /** Normalised image coordinates, clamped to [0,1]. */
  readonly norm: Vec;
  /** 0 = primary, 1 = middle, 2 = secondary (right). */
  readonly button: number;
  readonly alt: boolean;
  readonly shift: boolean;
  readonly ctrl: boolean;
}

/** The pointer over the canvas: a CSS cursor, or an outline of the brush radius drawn in its place. */
export type ToolCursor =
  | 'default'
  | 'crosshair'
  | 'grab'
  | { readonly brush: { readonly stroke: string; readonly dash?: readonly number[] } };

/** A state class: built once per tool with the editor and the tool it belongs to. */
export type StateClass = new (editor: Editor, tool: ToolNode) => StateNode;

/** One row of the TOOLS table: the toolbar button, its shortcut, its cursor and its states. */
export interface ToolSpec {
  readonly id: string;
  readonly label: string;
  /** Single-key shortcut (lower case). */
  readonly key: string;
  /** SVG path (24x24, stroked) for the toolbar button. */
  readonly icon: string;
  readonly hint: string;
  /** Toolbar group, so the bar can separate navigation, vector prompts and mask tools. */
  readonly group: 'navigate' | 'prompt' | 'mask';
  readonly cursor: ToolCursor;
  /** The tool's states; it starts in, and every gesture returns to, the one with id `initial`. */
  readonly states: readonly StateClass[];
  /** Defaults to 'idle'. */
  readonly initial?: string;
}

/** One state of a tool: the handlers it defines receive the events while it is current. */
export abstract class StateNode {
  abstract readonly id: string;
  onEnter?(info?: unknown): void;
  onExit?(): void;
  onPointerDown?(e: PointerInfo): void;
  onPointerMove?(e: PointerInfo): void;
  onPointerUp?(e: PointerInfo): void;
  onDoubleClick?(e: PointerInfo): void;
  /** Returns true when the key was consumed. */
  onKeyDown?(e: KeyInfo): boolean;
  /** Enter. */
  onComplete?(): void;
  constructor(
    protected readonly editor: Editor,
    protected readonly tool: ToolNode,
  ) {}
  /** Escape, a lost pointer, or a tool switch mid-gesture: by default, back to rest. */
  onCancel(): void {
    this.rest();
  }
  protected transition(id: string, info?: unknown): void {
    this.tool.transition(id, info);
  }
  /** Back to the tool's resting state. */
  protected rest(): void {
    this.tool.transition(this.tool.initial);
  }
}

/** The state every tool rests in. Tools whose rest reacts to more than a press subclass it. */
export class Idle extends StateNode {
  readonly id = 'idle';
  override onCancel(): void {}
}

/** The plain resting state: a press (or, with on = 'up', a release) starts `next` with the pointer. */
export function idle(next: string, on: 'down' | 'up' = 'down'): StateClass {
  return class extends Idle {
    override onPointerDown(e: PointerInfo): void {
      if (on === 'down') this.transition(next, e);
    }
    override onPointerUp(e: PointerInfo): void {
      if (on === 'up') this.transition(next, e);
    }
  };
}

/** What a pressing state passes on once the pointer travelled far enough to be a drag. */
export interface DragStart {
  readonly start: PointerInfo;
  readonly e: PointerInfo;
}

/** A press that becomes `next` (entered with a DragStart) once it travels past the drag threshold; a release rests. */
export function pressing(id: string, next: string): StateClass {
  return class extends StateNode {
    readonly id = id;
    private start: PointerInfo | null = null;
    override onEnter(info?: unknown): void {
      this.start = info as PointerInfo;
    }
    override onPointerMove(e: PointerInfo): void {
      const s = this.start;
      if (s && dist(e.screen, s.screen) > DRAG_THRESHOLD_PX)
        this.transition(next, { start: s, e } satisfies DragStart);
    }
    override onPointerUp(): void {
      this.rest();
    }
  };
}

/**
 * A state whose changes are one undo entry: `begin` marks, a release commits (squash) and a
 * cancel reverts everything since the mark (bail); both put the tool back at rest.
 */
export abstract class Gesture extends StateNode {
  protected begin(label: string): void {
    this.editor.mark(label);
  }
  override onPointerUp(_e?: PointerInfo): void {
    this.commit();
  }
  override onCancel(): void {
    this.editor.bail();
    this.rest();
  }
  protected commit(): void {
    this.editor.squash();
    this.rest();
  }
}

/** A tool built from its spec: it forwards every event to its current state. */
export class ToolNode {
  readonly id: string;
  readonly initial: string;
  private readonly states = new Map<string, StateNode>();
  private currentId: string;

  constructor(
    private readonly editor: Editor,
    readonly spec: ToolSpec,
  ) {
    this.id = spec.id;
    this.initial = spec.initial ?? 'idle';
    for (const State of spec.states) {
      const s = new State(editor, this);
      this.states.set(s.id, s);
    }
    if (!this.states.has(this.initial)) throw new Error(`tool ${this.id} has no state ${this.initial}`);
    this.currentId = this.initial;
  }

  get current(): StateNode {
    return this.states.get(this.currentId)!;
  }

  get path(): string {
    return `${this.id}.${this.currentId}`;
  }

  transition(id: string, info?: unknown): void {
    if (!this.states.has(id)) throw new Error(`tool ${this.id} has no state ${id}`);
    this.current.onExit?.();
    this.currentId = id;
    this.current.onEnter?.(info);
    this.editor.syncPath();
  }

  onEnter(): void {
    this.currentId = this.initial;
    this.current.onEnter?.();
  }

  onExit(): void {
    this.current.onCancel();
    this.current.onExit?.();
    this.currentId = this.initial;
  }

  onPointerDown(e: PointerInfo): void {
    this.current.onPointerDown?.(e);
  }
  onPointerMove(e: PointerInfo): void {
    this.current.onPointerMove?.(e);
  }
  onPointerUp(e: PointerInfo): void {
    this.current.onPointerUp?.(e);
  }
  onDoubleClick(e: PointerInfo): void {
    this.current.onDoubleClick?.(e);
  }
  onKeyDown(e: KeyInfo): boolean {
    return this.current.onKeyDown?.(e) ?? false;
  }
  onCancel(): void {
    this.current.onCancel();
  }
  onComplete(): void {
    this.current.onComplete?.();
  }
}
