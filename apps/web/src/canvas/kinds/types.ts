// What a prompt kind is to the canvas (tldraw's ShapeUtil, pared down): one util per kind owns
// its record's geometry, handles, hit-testing, drawing, list entry and JSON, and names the tools
// that draw it. The registry (./index.ts) is the only table of kinds; nothing else in the studio
// switches on a kind.
import type { ComponentType, ReactElement } from 'react';
import { type Prompt, PromptError, parsePrompt } from '@pixelvla/model';
import type { Editor } from '../editor';
import type { Corners, Size, Vec } from '../geometry';
import type { MaskBitmap } from '../raster';
import type { ShapeBase } from '../shapes';
import type { ToolSpec } from '../tools/StateNode';

/** Screen px within which a press picks an edge or outline, the same at every zoom. */
export const EDGE_PX = 6;

export interface PickContext {
  /** Normalised -> screen px under the current view. */
  readonly toScreen: (p: Vec) => Vec;
  /** The pointer in frame pixels. */
  readonly image: Vec;
  readonly mask: (id: string) => MaskBitmap | undefined;
}

export interface DrawContext {
  readonly toScreen: (p: Vec) => Vec;
  readonly selected: boolean;
}

/** A shape's row in the prompt list. */
export interface ListEntry {
  readonly label: string;
  readonly color: string;
  readonly detail: string;
}

/** A validated prompt turned into a canvas record (masks bring their pixels). */
export interface Parsed<S extends ShapeBase = ShapeBase> {
  readonly shape: S;
  readonly bitmap?: MaskBitmap;
}

interface Common<S extends ShapeBase, J extends { readonly type: string }, P> {
  /** The record's kind, which is also the prompt's JSON type (pixelvla.prompts). */
  readonly kind: S['kind'] & J['type'];
  /** The toolbar's tools for this kind, in toolbar order. */
  readonly tools: readonly ToolSpec[];
  /** Vertex handles, normalised; the select tool drags them. */
  handles(s: S): Vec[];
  withHandle(s: S, i: number, p: Vec): S;
  /** Moved by (dx, dy) normalised units, kept inside the frame. */
  translated(s: S, dx: number, dy: number): S;
  /** Whether a press at `screen` (CSS px) picks the shape. */
  hits(s: S, screen: Vec, ctx: PickContext): boolean;
  /** Whether the shape meets the marquee (normalised). */
  meets(s: S, r: Corners): boolean;
  /** Where a schematic action path starts when this is the first prompt; null for none. */
  anchor(s: S): Vec | null;
  entry(s: S): ListEntry;
  /** The prompt JSON (null when there is nothing to send, e.g. a mask without pixels). */
  toJson(s: S, bitmap: MaskBitmap | undefined): J | null;
  /**
   * The validator: a kind the model knows uses the model's own (modelParser), so the canvas
   * accepts exactly what the model accepts. Throws PromptError / RleError.
   */
  parse(json: unknown): P;
  /** The record for a validated prompt; throws PromptError when it cannot go on this frame. */
  fromPrompt(p: P, frame: Size): Parsed<S>;
}

/** How a kind is drawn: one react-konva node per shape, or a layer of its own. */
type Drawing<S> =
  | {
      /** The shape's node in the prompts layer. */
      node(s: S, ctx: DrawContext): ReactElement;
      readonly Layer?: undefined;
    }
  | {
      /**
       * A layer of its own under the prompts layer (masks: one bitmap image each). Shapes drawn
       * this way are also picked after the node kinds, which sit above them.
       */
      readonly Layer: ComponentType<{ editor: Editor }>;
      readonly node?: undefined;
    };

/** S: the canvas record; J: the JSON it exports; P: what its validator returns (J unless wider). */
export type ShapeUtil<S extends ShapeBase, J extends { readonly type: string }, P = J> = Common<S, J, P> &
  Drawing<S>;

/** Any registered util, as the registry holds them (methods are bivariant, so every kind fits). */
export type AnyShapeUtil = ShapeUtil<ShapeBase, { readonly type: string }, unknown>;

/** The model's validator (the twin of pixelvla.prompts) for one prompt type. */
export function modelParser<T extends Prompt['type']>(
  type: T,
): (json: unknown) => Extract<Prompt, { type: T }> {
  return (json) => {
    const p = parsePrompt(json);
    if (p.type !== type) throw new PromptError(`expected a ${type} prompt, got ${p.type}`);
    return p as Extract<Prompt, { type: T }>;
  };
}
