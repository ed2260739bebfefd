import { asc, eq } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { type McpServerRow, mcpServers } from '../storage/schema.js';

export type NewMcpServer = Pick<McpServerRow, 'name' | 'url' | 'headers' | 'principals'>;

/** The registered MCP servers (deployment-wide; every instance opens its own session to each). */
export class McpServerStore {
  constructor(private readonly db: Db) {}

  /** Inserts or replaces a server; a replaced server's tools are listed again by its new session. */
  async upsert(server: NewMcpServer): Promise<McpServerRow> {
    const { name: _name, ...changes } = server;
    const [row] = await this.db
      .insert(mcpServers)
      .values(server)
      .onConflictDoUpdate({ target: mcpServers.name, set: { ...changes, updatedAt: new Date() } })
      .returning();
    if (!row) throw new Error(`could not store MCP server ${server.name}`);
    return row;
  }

  async get(name: string): Promise<McpServerRow | null> {
    const [row] = await this.db.select().from(mcpServers).where(eq(mcpServers.name, name));
    return row ?? null;
  }

  list(): Promise<McpServerRow[]> {
    return this.db.select().from(mcpServers).orderBy(asc(mcpServers.name));
  }

  /** Deletes a server; its functions go with it (foreign key cascade), their execution records stay. */
  async delete(name: string): Promise<McpServerRow | null> {
    const [row] = await this.db.delete(mcpServers).where(eq(mcpServers.name, name)).returning();
    return row ?? null;
  }
}
