// At most one job in flight; while it runs, only the newest request waits. Older waiting
// requests resolve null ("superseded"), so a fast stream of requests (a dragged point) never
// builds a backlog and the last state always gets computed.
export class LatestWins<Req, Res> {
  private running = false;
  private waiting: { req: Req; resolve: (r: Res | null) => void; reject: (e: unknown) => void } | null = null;

  constructor(private readonly run: (req: Req) => Promise<Res>) {}

  submit(req: Req): Promise<Res | null> {
    return new Promise((resolve, reject) => {
      this.waiting?.resolve(null);
      this.waiting = { req, resolve, reject };
      this.pump();
    });
  }

  get busy(): boolean {
    return this.running;
  }

  private pump(): void {
    if (this.running || !this.waiting) return;
    const job = this.waiting;
    this.waiting = null;
    this.running = true;
    this.run(job.req)
      .then(job.resolve, job.reject)
      .finally(() => {
        this.running = false;
        this.pump();
      });
  }
}
