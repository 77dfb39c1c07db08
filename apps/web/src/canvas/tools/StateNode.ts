// A tool is a tiny hierarchical state machine (tldraw's StateNode, pared down): the tool node
// owns named child states, forwards events to the current child, and every tool returns to its
// idle state on cancel. Pointer handling lives here, never in React components.
import type { Vec } from '../geometry';
import type { Editor } from '../editor';

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

export interface KeyInfo {
  readonly key: string;
  readonly alt: boolean;
  readonly shift: boolean;
  readonly ctrl: boolean;
}

export interface StateHandlers {
  onEnter?(info?: unknown): void;
  onExit?(): void;
  onPointerDown?(e: PointerInfo): void;
  onPointerMove?(e: PointerInfo): void;
  onPointerUp?(e: PointerInfo): void;
  onDoubleClick?(e: PointerInfo): void;
  /** Returns true when the key was consumed. */
  onKeyDown?(e: KeyInfo): boolean;
  /** Escape, a lost pointer, or a tool switch mid-gesture. */
  onCancel?(): void;
  /** Enter. */
  onComplete?(): void;
}

export abstract class StateNode implements StateHandlers {
  abstract readonly id: string;
  onEnter?(info?: unknown): void;
  onExit?(): void;
  onPointerDown?(e: PointerInfo): void;
  onPointerMove?(e: PointerInfo): void;
  onPointerUp?(e: PointerInfo): void;
  onDoubleClick?(e: PointerInfo): void;
  onKeyDown?(e: KeyInfo): boolean;
  onCancel?(): void;
  onComplete?(): void;
  constructor(
    protected readonly editor: Editor,
    protected readonly parent: ToolNode | null,
  ) {}
  protected transition(id: string, info?: unknown): void {
    this.parent?.transition(id, info);
  }
}

export abstract class ToolNode implements StateHandlers {
  abstract readonly id: string;
  protected abstract readonly states: Record<string, StateNode>;
  protected abstract readonly initial: string;
  private currentId: string | null = null;

  constructor(protected readonly editor: Editor) {}

  get current(): StateNode {
    const id = this.currentId ?? this.initial;
    const s = this.states[id];
    if (!s) throw new Error(`tool ${this.id} has no state ${id}`);
    return s;
  }

  get path(): string {
    return `${this.id}.${this.current.id}`;
  }

  transition(id: string, info?: unknown): void {
    if (!this.states[id]) throw new Error(`tool ${this.id} has no state ${id}`);
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
    this.current.onCancel?.();
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
    this.current.onCancel?.();
  }
  onComplete(): void {
    this.current.onComplete?.();
  }
}

/** Pixels of pointer travel before a press becomes a drag. */
export const DRAG_THRESHOLD_PX = 3;
