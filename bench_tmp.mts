import { createSimulator } from './src/simulator/index.js';
const sim = await createSimulator({ replyWords: 50 });
const body = JSON.stringify({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'system', content: 'You are helpful. '.repeat(50) }, { role: 'user', content: 'Tell me a story about a dog' }] });
async function one() {
  const r = await fetch(`${sim.url}/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const text = await r.text();
  return text.split('\n\n').length - 1;
}
const start = performance.now();
let chunks = 0; let reqs = 0;
const workers = Array.from({ length: 50 }, async () => { while (performance.now() - start < 3000) { const n = await one(); chunks += n; reqs++; } });
await Promise.all(workers);
const s = (performance.now() - start) / 1000;
console.log({ reqs, rps: Math.round(reqs / s), chunksPerSec: Math.round(chunks / s) });
let t = performance.now();
for (let i = 0; i < 2000; i++) (sim as any).counter.countRequest({ model: 'gpt-4o', messages: JSON.parse(body).messages });
console.log('countRequest us', (performance.now() - t) / 2000 * 1000);
await sim.close();
