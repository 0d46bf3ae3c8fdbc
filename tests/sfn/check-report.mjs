// Opens a postetl report (HTML) in headless Chromium, Debian's build at /usr/bin/chromium (or
// $CHROMIUM), and prints as JSON what a person would see: each timeline row with its bars as laid
// out on screen (position, size, colour), the status badge, the cost total, and any request the
// page made beyond its own file (a self-contained report makes none). Saves a screenshot.
// Usage: node check-report.mjs <report.html> <screenshot.png>
import { chromium } from 'playwright-core';

const [file, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // As the machine's browser tests start it: no sandbox as root, no background network calls.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 60000,
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
  await page.goto('file://' + file, { timeout: 30000 });
  const rows = await page.$$eval('svg#timeline g.row', (groups) => groups.map((g) => ({
    step: g.dataset.step,
    kind: g.dataset.kind,
    status: g.dataset.status || null,
    marks: g.querySelector('text.marks')?.textContent || null,
    bars: [...g.querySelectorAll('rect')].map((r) => {
      const b = r.getBoundingClientRect();
      const style = getComputedStyle(r);
      return { x: b.x, y: b.y, width: b.width, height: b.height, fill: style.fill,
        visible: style.visibility !== 'hidden' && style.display !== 'none', status: r.dataset.status || null };
    }),
  })));
  const text = async (selector) => (await page.$(selector)) ? page.textContent(selector) : null;
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({
    title: await page.title(),
    status: await text('#status'),
    error: await text('#error'),
    total: await text('#total'),
    statements: await page.$$eval('#statements tr', (trs) => trs.length - 1).catch(() => 0),
    rows,
    requests,
  }));
} finally {
  await browser.close();
}
