// THE registry of prompt kinds (tldraw's ShapeUtil table): the editor, the select tool's
// picking, the canvas layers, the prompt list, the TOOLS table and JSON import/export all look a
// kind up here instead of switching on it. A kind is one folder (./point, ./line, ./box, ./mask;
// ./polygon is the mask kind's polygon tool) plus its line in BUILTIN_KINDS.
import type { ShapeBase } from '../shapes';
import type { AnyShapeUtil } from './types';
import { pointKind } from './point/util';
import { lineKind } from './line/util';
import { boxKind } from './box/util';
import { maskKind } from './mask/util';

export * from './types';

/** The studio's kinds, in toolbar order. */
const BUILTIN_KINDS = [pointKind, lineKind, boxKind, maskKind] as const;

type Builtin = (typeof BUILTIN_KINDS)[number];
/** The built-in kinds' records. */
export type Shape = Builtin extends infer K
  ? K extends { handles(s: infer S): unknown }
    ? S
    : never
  : never;
/** An interface as a plain object type (which, unlike an interface, fits `Record<string, unknown>`). */
type Plain<T> = { [K in keyof T]: T[K] };
/** The built-in kinds' prompt JSON, as the canvas exports it. */
export type PromptJson = Builtin extends infer K
  ? K extends { toJson(...args: never[]): infer J }
    ? Plain<Exclude<J, null>>
    : never
  : never;

const registry = new Map<string, AnyShapeUtil>(BUILTIN_KINDS.map((k) => [k.kind, k]));

/** Every registered kind, in registration order. */
export function kinds(): AnyShapeUtil[] {
  return [...registry.values()];
}

/** The kind registered under a record kind / JSON type, if any. */
export function findKind(kind: unknown): AnyShapeUtil | undefined {
  return typeof kind === 'string' ? registry.get(kind) : undefined;
}

export function kindOf(s: ShapeBase): AnyShapeUtil {
  const k = registry.get(s.kind);
  // Records only enter the editor through a registered kind (its tools or its parser).
  if (!k) throw new Error(`no prompt kind '${s.kind}' is registered`);
  return k;
}

/**
 * Adds a kind after the built-ins (its tools join the toolbar, its JSON type the import);
 * returns the function that removes it again.
 */
export function registerKind(util: AnyShapeUtil): () => void {
  if (registry.has(util.kind)) throw new Error(`prompt kind '${util.kind}' is already registered`);
  registry.set(util.kind, util);
  return () => {
    if (registry.get(util.kind) === util) registry.delete(util.kind);
  };
}
