// Placeholder until the studio issue builds this page; it says so plainly rather than pretending.
export function PromptPage() {
  return (
    <section className="page" data-testid="page-prompt">
      <h2>Prompt</h2>
      <p className="muted">Not built yet: see the studio issue.</p>
    </section>
  );
}
