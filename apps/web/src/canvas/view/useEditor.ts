import { useStore } from 'zustand';
import type { CanvasState, Editor } from '../editor';

/** Subscribes a component to one slice of the editor's store. */
export function useEditorState<T>(editor: Editor, selector: (s: CanvasState) => T): T {
  return useStore(editor.store, selector);
}
