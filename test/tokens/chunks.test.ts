import fc from 'fast-check';
import { get_encoding } from 'tiktoken';
import { afterAll, describe, expect, it } from 'vitest';
import { CHUNK_CHARS, tokenChunks } from '../../src/tokens/chunks.js';

const encodings = [get_encoding('cl100k_base'), get_encoding('o200k_base')] as const;
afterAll(() => {
  for (const encoding of encodings) encoding.free();
});

const chunkedCount = (text: string, encoding: (typeof encodings)[number], chunkChars = CHUNK_CHARS) =>
  [...tokenChunks(text, chunkChars)].reduce((sum, chunk) => sum + encoding.encode_ordinary(chunk).length, 0);

// Every class the pre-tokenizer distinguishes: cases, marks, digits, apostrophes (contractions), punctuation,
// symbols, emoji (surrogate pairs), CJK, and each kind of whitespace.
const alphabet = [
  ...'aeiouxyzAEIOUXYZ',
  'é',
  'Ω',
  'ß',
  '\u0301',
  '\u200d',
  '\ufe0f',
  ...'0123456789',
  '٣',
  "'",
  "'s",
  "'LL",
  ...'.,;:!?-()[]{}"/\\@#$%&*+=<>|~^_`',
  '€',
  '→',
  '🚀',
  '👍🏽',
  '中',
  '文',
  '。',
  '，',
  'の',
  ' ',
  ' ',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\u00a0',
  '\u3000',
];
// Words of at most 18 code points, each closed by a sure cut ('z' | ' '): every 24-code-point window holds a
// cut, so chunks of 24 are cut at the last rule that applies, wherever in a word that is.
const SMALL_CHUNK = 24;
const word = fc
  .array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 6 })
  .map((entries) => `${entries.join('')}z `);
const randomText = fc.array(word, { minLength: 20, maxLength: 200 }).map((words) => words.join(''));

const prose =
  'It\'s 2024: the "quick" brown fox (naïve, façade) jumped 12,345.67 times over https://example.com/a/b?c=d&e=f#g!\n' +
  'Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. 東京は日本の首都です。我们今天去公园散步，好吗？\n' +
  '\tdef f(x):\n        return x ** 2  # comment 🚀👍🏽\n' +
  'e0b5c4f19a3d7e6b8c2a1f0e9d8c7b6a SGVsbG8gd29ybGQhIFRoaXMgaXMgYmFzZTY0Lg== {"key": [1, 2, {"nested": null}]}\n';

describe('tokenChunks', () => {
  it('cuts prose into chunks whose counts add up to the whole text count, in both encodings', () => {
    const text = prose.repeat(40);
    for (const encoding of encodings) {
      expect(chunkedCount(text, encoding)).toBe(encoding.encode_ordinary(text).length);
    }
    expect([...tokenChunks(text)].length).toBeGreaterThan(text.length / CHUNK_CHARS);
  });

  it('keeps counts exact at every kind of cut, on random text from every character class', () => {
    fc.assert(
      fc.property(randomText, (text) => {
        for (const encoding of encodings) {
          expect(chunkedCount(text, encoding, SMALL_CHUNK)).toBe(encoding.encode_ordinary(text).length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('loses no character and never splits a surrogate pair', () => {
    const text = `${'🚀'.repeat(300)}${'A'.repeat(1000)}${' '.repeat(700)}`;
    const chunks = [...tokenChunks(text)];
    expect(chunks.join('')).toBe(text);
    for (const chunk of chunks) {
      expect(/\p{Cs}/u.test(chunk)).toBe(false);
      expect(chunk.length).toBeLessThanOrEqual(2 * CHUNK_CHARS);
    }
  });

  it('bounds a run with no cut to chunks of CHUNK_CHARS, counted within a token per cut', () => {
    const text = 'A'.repeat(100_000);
    const chunks = [...tokenChunks(text)];
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBe(CHUNK_CHARS);
    const [cl100k] = encodings;
    const whole = cl100k.encode_ordinary(text.slice(0, 20_000)).length;
    expect(Math.abs(chunkedCount(text.slice(0, 20_000), cl100k) - whole)).toBeLessThanOrEqual(
      20_000 / CHUNK_CHARS,
    );
  });
});
