// Fixture data for the studio specs: the small simulated dataset that the e2e server's start
// command generates (e2e/playwright.config.ts) before it serves.
export const DATASET = 'sim-sample';

/** The GPU server itself (not through the studio's proxy), as playwright.config.ts starts it. */
export const SERVER_URL = `http://127.0.0.1:${Number(process.env.E2E_SERVER_PORT ?? 18000)}`;
