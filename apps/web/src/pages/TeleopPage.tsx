// Placeholder until the studio issue builds this page; it says so plainly rather than pretending.
export function TeleopPage() {
  return (
    <section className="page" data-testid="page-teleop">
      <h2>Teleop</h2>
      <p className="muted">Not built yet: see the studio issue.</p>
    </section>
  );
}
