// Undo/redo built from reversible changes with named marks (the tldraw HistoryManager idea):
// a gesture calls mark() on pointer-down, every change it makes is recorded, squash() on
// pointer-up folds them into one undo entry, bail() on cancel reverts them and leaves no trace.

export interface Change {
  /** Re-applies the change (redo). */
  readonly redo: () => void;
  /** Reverts the change (undo). */
  readonly undo: () => void;
}

interface Entry {
  readonly label: string;
  readonly changes: Change[];
}

export class History {
  private undos: Entry[] = [];
  private redos: Entry[] = [];
  /** The open gesture, if any: changes recorded since mark(). */
  private pending: Entry | null = null;

  constructor(private readonly limit = 200) {}

  /** Records an already-applied change, into the open gesture or as its own entry. */
  record(label: string, change: Change): void {
    this.redos = [];
    if (this.pending) {
      this.pending.changes.push(change);
      return;
    }
    this.push({ label, changes: [change] });
  }

  mark(label: string): void {
    if (this.pending) this.squash();
    this.pending = { label, changes: [] };
  }

  /** Closes the open gesture as one undo entry (nothing if it changed nothing). */
  squash(): void {
    const p = this.pending;
    this.pending = null;
    if (p && p.changes.length > 0) this.push(p);
  }

  /** Reverts everything since mark() and forgets it. */
  bail(): void {
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    for (let i = p.changes.length - 1; i >= 0; i--) p.changes[i]!.undo();
  }

  get inGesture(): boolean {
    return this.pending !== null;
  }

  undo(): boolean {
    this.bail();
    const e = this.undos.pop();
    if (!e) return false;
    for (let i = e.changes.length - 1; i >= 0; i--) e.changes[i]!.undo();
    this.redos.push(e);
    return true;
  }

  redo(): boolean {
    this.bail();
    const e = this.redos.pop();
    if (!e) return false;
    for (const c of e.changes) c.redo();
    this.undos.push(e);
    return true;
  }

  get canUndo(): boolean {
    return this.undos.length > 0;
  }

  get canRedo(): boolean {
    return this.redos.length > 0;
  }

  get labels(): { undo: string[]; redo: string[] } {
    return { undo: this.undos.map((e) => e.label), redo: this.redos.map((e) => e.label) };
  }

  clear(): void {
    this.undos = [];
    this.redos = [];
    this.pending = null;
  }

  private push(e: Entry): void {
    this.undos.push(e);
    if (this.undos.length > this.limit) this.undos.shift();
  }
}
