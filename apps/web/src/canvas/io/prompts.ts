// Prompts as JSON, in the contract's form (pixelvla.prompts): normalised coordinates,
// {"type":"point","x","y","positive"}, {"type":"box","x0","y0","x1","y1"},
// {"type":"line","points":[[x,y],...]}, {"type":"mask","rle":{"size":[H,W],"counts":"..."}}.
// Each kind writes and reads its own JSON (kinds/<kind>/); reading validates every prompt with
// the model's parser (@pixelvla/model), the one the encoder worker and the server's twin use, so
// the canvas imports exactly what the model accepts.
import { PixelVLAError, PromptError, parsePrompt } from '@pixelvla/model';
import type { Editor } from '../editor';
import type { Size } from '../geometry';
import { type Parsed, type PromptJson, findKind, kindOf } from '../kinds';

export type { PromptJson } from '../kinds';
/** Import errors are the model's own (PromptError, RleError); the old name stays for callers. */
export { PromptError as PromptJsonError } from '@pixelvla/model';

export function exportPrompts(editor: Editor): PromptJson[] {
  return editor.shapes.flatMap((s) => {
    const json = kindOf(s).toJson(s, editor.getMask(s.id));
    return json ? [json as PromptJson] : [];
  });
}

/**
 * Validates a prompt list and turns it into records (+ bitmaps for masks) for a frame of size
 * `frame`. Throws the model's PromptError / RleError, naming the prompt, on bad input; beyond the
 * model's rules it only requires masks to have the frame's size.
 */
export function readPrompts(json: unknown, frame: Size): Parsed[] {
  // The same check as the model's parsePrompts; walking the list here lets errors name the prompt.
  if (!Array.isArray(json)) throw new PromptError('prompt JSON must be an array of prompts');
  return json.map((raw: unknown, i) => {
    try {
      const kind =
        typeof raw === 'object' && raw !== null ? findKind((raw as { type?: unknown }).type) : undefined;
      if (kind) return kind.fromPrompt(kind.parse(raw), frame);
      // Not a kind the canvas draws: the model's parser says what is wrong with it.
      const p = parsePrompt(raw);
      throw new PromptError(`the canvas has no '${p.type}' prompt kind`);
    } catch (e) {
      if (e instanceof PixelVLAError) e.message = `prompt ${i}: ${e.message}`;
      throw e;
    }
  });
}

/** Replaces nothing: adds the parsed prompts as one undo entry, or nothing when any is bad. */
export function importPrompts(editor: Editor, json: unknown): number {
  const parsed = readPrompts(json, editor.state.imageSize);
  editor.mark('import');
  for (const { shape, bitmap } of parsed) editor.createShape(shape, bitmap);
  editor.squash();
  return parsed.length;
}
