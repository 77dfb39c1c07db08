// Fixture data for the studio specs: the small simulated dataset that the e2e server's start
// command generates (e2e/playwright.config.ts) before it serves.
export const DATASET = 'sim-sample';
