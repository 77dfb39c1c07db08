// The eraser is the brush painting zeros (destination-out in the view) into the active mask.
import { BrushTool } from '../mask/BrushTool';
import type { Editor } from '../../editor';

export class EraserTool extends BrushTool {
  constructor(editor: Editor) {
    super(editor, true);
  }
}
