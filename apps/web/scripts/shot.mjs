// Dev helper: screenshot a studio page in headless Chromium, optionally after scripted input.
// usage: node scripts/shot.mjs <url> <out.png> [script.mjs exporting default async (page) => {}]
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [url, out, script] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
page.on('console', (m) => console.log(`[console.${m.type()}] ${m.text()}`));
page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
await page.goto(url);
await page.waitForTimeout(800);
if (script) await (await import(pathToFileURL(resolve(script)).href)).default(page);
await page.screenshot({ path: out });
await browser.close();
