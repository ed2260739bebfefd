import { randomUUID } from 'node:crypto';
import { and, asc, count, eq, inArray, isNull, notInArray, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import {
  type FunctionDefinitionRow,
  type FunctionExecutionRow,
  functionDefinitions,
  functionExecutions,
  mcpServers,
} from '../storage/schema.js';

export type NewFunctionDefinition = Pick<
  FunctionDefinitionRow,
  'name' | 'kind' | 'description' | 'parameters' | 'webhookUrl' | 'ownerId'
> &
  Partial<Pick<FunctionDefinitionRow, 'mcpServer' | 'mcpTool' | 'requiresApproval'>>;
export type McpToolDefinition = Pick<
  FunctionDefinitionRow,
  'name' | 'description' | 'parameters' | 'mcpTool'
>;
export type NewFunctionExecution = Omit<FunctionExecutionRow, 'id'>;

/** Every given list narrows the selection; the owner always does. */
export interface ExecutionFilter {
  ids?: readonly string[];
  completionIds?: readonly string[];
  toolCallIds?: readonly string[];
}

export interface FunctionStats {
  calls: number;
  successes: number;
  failures: number;
  avgDurationMs: number | null;
  p95DurationMs: number | null;
}

/** The registry's rows (deployment-wide, not per owner) and every execution (per owner). */
export class FunctionStore {
  constructor(private readonly db: Db) {}

  /** Inserts or replaces a definition; the enabled flag survives a re-registration. */
  async upsertDefinition(definition: NewFunctionDefinition): Promise<FunctionDefinitionRow> {
    const { name: _name, ...changes } = definition;
    const [row] = await this.db
      .insert(functionDefinitions)
      .values(definition)
      .onConflictDoUpdate({ target: functionDefinitions.name, set: { ...changes, updatedAt: new Date() } })
      .returning();
    if (!row) throw new Error(`could not store function ${definition.name}`);
    return row;
  }

  async definition(name: string): Promise<FunctionDefinitionRow | null> {
    const [row] = await this.db.select().from(functionDefinitions).where(eq(functionDefinitions.name, name));
    return row ?? null;
  }

  /** The named definitions (all without names); with `usableBy`, only those that principal may use. */
  async definitions(names?: readonly string[], usableBy?: string): Promise<FunctionDefinitionRow[]> {
    return this.db
      .select()
      .from(functionDefinitions)
      .where(
        and(
          names ? inArray(functionDefinitions.name, [...names]) : undefined,
          usableBy === undefined ? undefined : usable(usableBy),
        ),
      )
      .orderBy(asc(functionDefinitions.name));
  }

  mcpDefinitions(server: string): Promise<FunctionDefinitionRow[]> {
    return this.db
      .select()
      .from(functionDefinitions)
      .where(eq(functionDefinitions.mcpServer, server))
      .orderBy(asc(functionDefinitions.name));
  }

  /**
   * Makes an MCP server's definitions exactly `tools`, in one transaction; the enabled flags of tools kept stay.
   * A name held by another function is left alone: the names of the tools stored are returned.
   */
  async replaceMcpTools(server: string, tools: readonly McpToolDefinition[]): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const stored: string[] = [];
      for (const tool of tools) {
        const { name: _name, ...changes } = tool;
        const [row] = await tx
          .insert(functionDefinitions)
          .values({ ...tool, kind: 'mcp', mcpServer: server, webhookUrl: null, ownerId: null })
          .onConflictDoUpdate({
            target: functionDefinitions.name,
            set: { ...changes, updatedAt: new Date() },
            setWhere: eq(functionDefinitions.mcpServer, server),
          })
          .returning({ name: functionDefinitions.name });
        if (row) stored.push(row.name);
      }
      await tx
        .delete(functionDefinitions)
        .where(
          and(
            eq(functionDefinitions.mcpServer, server),
            stored.length > 0 ? notInArray(functionDefinitions.name, stored) : undefined,
          ),
        );
      return stored;
    });
  }

  async setEnabled(name: string, enabled: boolean): Promise<FunctionDefinitionRow | null> {
    const [row] = await this.db
      .update(functionDefinitions)
      .set({ enabled, updatedAt: new Date() })
      .where(eq(functionDefinitions.name, name))
      .returning();
    return row ?? null;
  }

  async insertExecution(execution: NewFunctionExecution): Promise<FunctionExecutionRow> {
    const [row] = await this.db
      .insert(functionExecutions)
      .values({ id: randomUUID(), ...execution })
      .returning();
    if (!row) throw new Error('execution insert returned nothing');
    return row;
  }

  async executions(ownerId: string, filter: ExecutionFilter): Promise<FunctionExecutionRow[]> {
    return this.db
      .select()
      .from(functionExecutions)
      .where(
        and(
          eq(functionExecutions.ownerId, ownerId),
          filter.ids ? inArray(functionExecutions.id, [...filter.ids]) : undefined,
          filter.completionIds
            ? inArray(functionExecutions.completionId, [...filter.completionIds])
            : undefined,
          filter.toolCallIds ? inArray(functionExecutions.toolCallId, [...filter.toolCallIds]) : undefined,
        ),
      )
      .orderBy(asc(functionExecutions.createdAt), asc(functionExecutions.id));
  }

  /** Stats over every execution of each function (all owners): one grouped statement for many names. */
  async stats(names: readonly string[]): Promise<Map<string, FunctionStats>> {
    const rows = await this.db
      .select({
        name: functionExecutions.functionName,
        calls: count(),
        successes: sql<number>`count(*) filter (where ${functionExecutions.status} = 'succeeded')`.mapWith(
          Number,
        ),
        avgDurationMs: sql<number>`avg(${functionExecutions.durationMs})`.mapWith(Number),
        p95DurationMs:
          sql<number>`percentile_cont(0.95) within group (order by ${functionExecutions.durationMs})`.mapWith(
            Number,
          ),
      })
      .from(functionExecutions)
      .where(inArray(functionExecutions.functionName, [...names]))
      .groupBy(functionExecutions.functionName);
    const byName = new Map(rows.map((row) => [row.name, row]));
    return new Map(
      names.map((name) => {
        const row = byName.get(name);
        return [
          name,
          row
            ? { ...row, failures: row.calls - row.successes }
            : { calls: 0, successes: 0, failures: 0, avgDurationMs: null, p95DurationMs: null },
        ];
      }),
    );
  }
}

/** Built-in and webhook functions are everyone's; an MCP tool is for the principals its server lists. */
function usable(principalId: string): SQL | undefined {
  return or(
    isNull(functionDefinitions.mcpServer),
    sql`exists (select 1 from ${mcpServers} where ${mcpServers.name} = ${functionDefinitions.mcpServer}
      and (${principalId} = any(${mcpServers.principals}) or '*' = any(${mcpServers.principals})))`,
  );
}
