/**
 * Reads tool-call arguments out of a user's free text under the tool's JSON Schema, the way a model would
 * for simple requests. Per top-level property, in schema order:
 * 1. an explicit label, `Name: value` or `name=value` (case-insensitive; `_`, `-` and camelCase may be spaces);
 * 2. otherwise, by type and name: numbers take the next unused number (money first for amount-like names),
 *    merchant-like strings take `from|at <Capitalized Words>`, place-like strings `in|to|for <Capitalized Words>`,
 *    currency takes an ISO code or the currency symbol's code, enums take the first enum value in the text.
 * Properties with nothing found are left out, even when required, so the caller's validation sees the gap.
 */
export function extractArguments(text: string, parameters: Record<string, unknown>): Record<string, unknown> {
  const properties = asRecord(parameters.properties) ?? {};
  const numbers = findNumbers(text);
  const args: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(properties)) {
    const schema = asRecord(raw) ?? {};
    const found = labeledValue(text, name, schema) ?? inferredValue(text, name, schema, numbers);
    if (found === undefined) continue;
    args[name] = found.value;
    for (const n of numbers) if (n.start >= found.start && n.start < found.end) n.used = true;
  }
  return args;
}

interface Found {
  value: unknown;
  start: number;
  end: number;
}

interface NumberToken {
  value: number;
  start: number;
  money: boolean;
  symbol: string | undefined;
  used: boolean;
}

const AMOUNT_NAME = /amount|price|cost|total|sum|budget|limit|fee|payment/i;
const MERCHANT_NAME = /merchant|vendor|store|shop|seller|payee|retailer|company|business|brand/i;
const PLACE_NAME = /city|location|place|destination|country|region/i;
const CURRENCY_NAME = /currency/i;
const ISO_CURRENCY = /\b(USD|EUR|GBP|JPY|CAD|AUD|CHF|CNY|INR)\b/i;
const SYMBOL_CURRENCY: Record<string, string> = { $: 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY' };
const CAPITALIZED_WORDS = "([A-Z][\\w&'’.-]*(?:\\s+[A-Z][\\w&'’.-]*)*)";

function schemaType(schema: Record<string, unknown>): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.find((t): t is string => typeof t === 'string' && t !== 'null');
  return Array.isArray(schema.enum) ? 'string' : undefined;
}

function labeledValue(text: string, name: string, schema: Record<string, unknown>): Found | undefined {
  const spaced = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
  const label = [...new Set([name, spaced])].map((l) => escapeRegExp(l).replace(/ /g, '[\\s_-]+')).join('|');
  // A value runs to a comma (other than a thousands separator), semicolon, newline, sentence end, or the next
  // `word:` label.
  const pattern = new RegExp(
    `(?:^|[^\\w])(?:${label})\\s*[:=]\\s*` +
      `("[^"]*"|'[^']*'|\\[[^\\]]*\\]|\\{[^}]*\\}|(?:[^,;\\n]|,(?=\\d{3}))*?)` +
      '(?=\\s*(?:,(?!\\d{3})|[;\\n]|\\.\\s|\\.$|$|\\s+[A-Za-z_]\\w*\\s*[:=]))',
    'i',
  );
  const match = pattern.exec(text);
  const raw = match?.[1];
  if (match === null || raw === undefined || raw === '') return undefined;
  const end = match.index + match[0].length;
  return { value: coerce(raw, schema), start: end - raw.length, end };
}

function coerce(raw: string, schema: Record<string, unknown>): unknown {
  const unquoted = /^(["']).*\1$/s.test(raw) ? raw.slice(1, -1) : raw.trim();
  const enumValue = matchEnum(unquoted, schema, true);
  if (enumValue !== undefined) return enumValue;
  switch (schemaType(schema)) {
    case 'number':
    case 'integer': {
      const number = /-?\d[\d,]*(?:\.\d+)?/.exec(unquoted);
      return number ? Number(number[0].replace(/,/g, '')) : unquoted;
    }
    case 'boolean':
      if (/^(true|yes|y|1)$/i.test(unquoted)) return true;
      if (/^(false|no|n|0)$/i.test(unquoted)) return false;
      return unquoted;
    case 'array':
    case 'object':
      try {
        return JSON.parse(unquoted);
      } catch {
        return schemaType(schema) === 'array'
          ? unquoted.split(/\s*(?:,|\band\b)\s*/).filter(Boolean)
          : unquoted;
      }
    default:
      return unquoted;
  }
}

function inferredValue(
  text: string,
  name: string,
  schema: Record<string, unknown>,
  numbers: NumberToken[],
): Found | undefined {
  const type = schemaType(schema);
  if (type === 'number' || type === 'integer') {
    const candidates = numbers.filter((n) => !n.used && (type === 'number' || Number.isInteger(n.value)));
    const pick = (AMOUNT_NAME.test(name) && candidates.find((n) => n.money)) || candidates[0];
    return pick && { value: pick.value, start: pick.start, end: pick.start + 1 };
  }
  if (type !== 'string') return undefined;
  const enumValue = matchEnum(text, schema, false);
  if (enumValue !== undefined) return { value: enumValue, start: -1, end: -1 };
  if (CURRENCY_NAME.test(name)) {
    const code = ISO_CURRENCY.exec(text)?.[1]?.toUpperCase() ?? numbers.find((n) => n.symbol)?.symbol;
    const value = code && (SYMBOL_CURRENCY[code] ?? code);
    return value ? { value, start: -1, end: -1 } : undefined;
  }
  const preposition = MERCHANT_NAME.test(name)
    ? '[Ff]rom|[Aa]t'
    : PLACE_NAME.test(name)
      ? '[Ii]n|[Tt]o|[Ff]or'
      : null;
  if (!preposition) return undefined;
  const match = new RegExp(`\\b(?:${preposition})\\s+${CAPITALIZED_WORDS}`).exec(text);
  const value = match?.[1]?.replace(/[.’']+$/, '');
  return value ? { value, start: -1, end: -1 } : undefined;
}

/** `exact`: the whole value must be an enum member; otherwise the first member found as a word in the text. */
function matchEnum(value: string, schema: Record<string, unknown>, exact: boolean): unknown {
  if (!Array.isArray(schema.enum)) return undefined;
  const lower = value.toLowerCase();
  let best: { item: unknown; at: number } | undefined;
  for (const item of schema.enum) {
    const candidate = String(item).toLowerCase();
    if (exact) {
      if (candidate === lower || candidate.replace(/_/g, ' ') === lower) return item;
      continue;
    }
    const at = new RegExp(`(?:^|\\W)${escapeRegExp(candidate).replace(/_/g, '[_ ]')}(?:$|\\W)`).exec(
      lower,
    )?.index;
    if (at !== undefined && (!best || at < best.at)) best = { item, at };
  }
  return best?.item;
}

function findNumbers(text: string): NumberToken[] {
  const tokens: NumberToken[] = [];
  for (const match of text.matchAll(/(?<![\w.])([$€£¥])?\s?(-?\d[\d,]*(?:\.\d+)?)(?![\w.]*\d)/g)) {
    const [, symbol, digits = ''] = match;
    const value = Number(digits.replace(/,/g, ''));
    if (Number.isNaN(value)) continue;
    tokens.push({
      value,
      start: match.index,
      money: symbol !== undefined || /\.\d{2}$/.test(digits),
      symbol,
      used: false,
    });
  }
  return tokens;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
