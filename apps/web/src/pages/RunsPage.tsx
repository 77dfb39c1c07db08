// Placeholder until the studio issue builds this page; it says so plainly rather than pretending.
export function RunsPage() {
  return (
    <section className="page" data-testid="page-runs">
      <h2>Runs</h2>
      <p className="muted">Not built yet: see the studio issue.</p>
    </section>
  );
}
