/**
 * tiktoken's byte-pair merge is quadratic in the length of one pre-tokenizer piece, and a run of one letter
 * ("AAAA…") is a single piece: 100 KB of it held the event loop for seconds and 3 MB trapped the WASM. So text
 * is encoded in chunks of at most CHUNK_CHARS code points, each cut where the pre-tokenizer regex of both
 * cl100k_base and o200k_base always ends one piece and starts the next. Those regexes have no lookbehind, and
 * no piece can span such a cut, so the chunks split into exactly the pieces of the whole text and the sum of
 * their counts is the whole text's count. The cuts (prev | next):
 * - a digit | anything but a digit: digits only ever appear in `\p{N}{1,3}` pieces;
 * - a letter | anything but a letter, a mark or `'`: letter pieces hold only letters and marks, then an
 *   optional contraction (`'s`, `'ll`, …);
 * - punctuation or a symbol | a space or a tab: punctuation pieces continue only with more of it or with
 *   `\r`, `\n` (and `/` in o200k), and whitespace pieces hold no punctuation.
 * A run longer than CHUNK_CHARS with none of these cuts (never in prose; a wall of one character, a long
 * whitespace run) is cut anyway, so its count is approximate by about a token per cut; that bounds the work
 * per chunk (well under a millisecond) and makes counting linear in the text.
 */
export const CHUNK_CHARS = 256;

/** After the chunk's code points, one of the cuts; the lookarounds see the text around it. */
const CUT = `(?:(?<=\\p{N})(?!\\p{N})|(?<=\\p{L})(?![\\p{L}\\p{M}'])|(?<=[\\p{P}\\p{S}])(?=[ \\t]))`;

/** Splits `text` into chunks whose token counts add up to the count of the whole (see above). */
export function* tokenChunks(text: string, chunkChars = CHUNK_CHARS): Generator<string> {
  // Greedy up to chunkChars code points, backtracking to the last cut; sticky, so it reads the text in place.
  const lastCut = new RegExp(`[^]{1,${chunkChars}}${CUT}`, 'uy');
  let start = 0;
  while (text.length - start > chunkChars) {
    lastCut.lastIndex = start;
    let cut = lastCut.exec(text)?.[0].length;
    if (cut === undefined) {
      cut = isHighSurrogate(text.charCodeAt(start + chunkChars - 1)) ? chunkChars - 1 : chunkChars;
    }
    yield text.slice(start, start + cut);
    start += cut;
  }
  yield text.slice(start);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
