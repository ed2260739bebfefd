export { EVERY_PRINCIPAL, McpServers, type McpServerView, type RegisterMcpServerInput } from './service.js';
export type { McpSessionStatus } from './session.js';
export { McpServerStore } from './store.js';
export { IMPLEMENTATION } from './tools.js';
