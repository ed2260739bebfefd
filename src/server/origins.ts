import type { CORSOptions } from 'graphql-yoga';

/**
 * Which browsers' pages may call the server, and under which Host names it answers.
 * - Development mode (no API_KEYS) acts as an admin for anyone who reaches it, so it answers only loopback
 *   Host values (a DNS-rebinding page reaches 127.0.0.1 under its own name) and only loopback origins, over
 *   HTTP (CORS) and WebSocket (Origin on the upgrade).
 * - With keys, cross-origin pages are allowed only from CORS_ORIGINS (`*` for any; keys travel in headers, so
 *   no credentials are allowed then). Same-origin pages (GraphiQL) are always allowed.
 * Clients that send no Origin (servers, curl, native apps) are not browsers and are not limited by it.
 */
export class OriginPolicy {
  private readonly anyOrigin: boolean;
  private readonly origins: Set<string>;

  constructor(
    private readonly devMode: boolean,
    corsOrigins: string[],
  ) {
    this.anyOrigin = corsOrigins.includes('*');
    this.origins = new Set(corsOrigins);
  }

  allowsHost(host: string | undefined): boolean {
    if (!this.devMode) return true;
    return host !== undefined && isLoopback(hostnameOf(`http://${host}`));
  }

  allowsOrigin(origin: string | null | undefined, host: string | null | undefined): boolean {
    if (!origin) return true;
    if (host && hostOf(origin) === host.toLowerCase()) return true;
    if (this.devMode) return isLoopback(hostnameOf(origin));
    return this.anyOrigin || this.origins.has(origin.toLowerCase());
  }

  /** Yoga's CORS option: headers only for an allowed cross-origin page. */
  cors(request: Request): CORSOptions {
    const origin = request.headers.get('origin');
    if (!origin || !this.allowsOrigin(origin, request.headers.get('host'))) return false;
    return { origin: [origin], credentials: !this.anyOrigin || this.devMode };
  }
}

const parse = (url: string) => {
  try {
    return new URL(url);
  } catch {
    return null;
  }
};
const hostnameOf = (url: string) => parse(url)?.hostname ?? '';
const hostOf = (url: string) => parse(url)?.host ?? '';

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}
