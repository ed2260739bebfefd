import { type AnyColumn, getTableColumns, type InferSelectModel, type Table } from 'drizzle-orm';

/**
 * A row that a statement returned as JSON (`row_to_json`, `json_agg`), read back as Drizzle reads the table's
 * own rows: snake_case column names to fields, each value through its column's driver mapping (timestamps to
 * Dates). One statement can so return rows of several tables, which Drizzle's builders cannot.
 */
export function rowFromJson<T extends Table>(table: T, json: Record<string, unknown>): InferSelectModel<T> {
  const row: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(getTableColumns(table)) as [string, AnyColumn][]) {
    const value = json[column.name];
    row[field] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as InferSelectModel<T>;
}

/** A `json` result column: the drivers parse it, unless a type parser left it as text. */
export function parsedJson<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}
