import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Plugin } from 'graphql-yoga';
import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.js';

/** A manifest as codegen's client preset writes it (`persistedDocuments`): `{ "sha256:<hex>": "<document>" }`. */
const manifestSchema = z.record(z.string().min(1), z.string().min(1));

/** What a request says about its document: the text, or an id under `documentId` or the APQ extension. */
export interface DocumentRequest {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/**
 * Trusted documents (persisted operations): the operations an application's clients were built with, by id.
 * With `only`, nothing else runs: an attacker can send no document the clients never shipped.
 */
export class TrustedDocuments {
  private constructor(
    private readonly documents: ReadonlyMap<string, string>,
    readonly only: boolean,
  ) {}

  /** Reads the manifests; a document whose `sha256:` id is not its hash stops the start. */
  static async load(paths: readonly string[], only: boolean): Promise<TrustedDocuments> {
    const documents = new Map<string, string>();
    for (const path of paths) {
      const manifest = manifestSchema.parse(JSON.parse(await readFile(path, 'utf8')));
      for (const [id, document] of Object.entries(manifest)) {
        const hash = id.startsWith('sha256:') ? id.slice('sha256:'.length) : null;
        if (hash !== null && hash !== createHash('sha256').update(document).digest('hex')) {
          throw new Error(`${path}: the document under ${id} does not have that hash`);
        }
        documents.set(id, document);
      }
    }
    return new TrustedDocuments(documents, only);
  }

  get size(): number {
    return this.documents.size;
  }

  /**
   * `documentId` (GraphQL over HTTP's persisted documents), else the APQ `extensions.persistedQuery.sha256Hash`,
   * which comes without the `sha256:` prefix that codegen's ids carry.
   */
  idOf(request: DocumentRequest): string | null {
    if (typeof request.documentId === 'string') return request.documentId;
    const hash = (request.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)
      ?.persistedQuery?.sha256Hash;
    return typeof hash === 'string' ? `sha256:${hash}` : null;
  }

  get(id: string): string | undefined {
    return this.documents.get(id);
  }

  /**
   * The text to run for a request, for transports Yoga's plugin does not see (graphql-ws): the trusted document
   * when the request names one, the request's own text when arbitrary documents are allowed.
   */
  documentFor(request: DocumentRequest): string {
    const id = this.idOf(request);
    const text = typeof request.query === 'string' && request.query.trim() !== '' ? request.query : null;
    if (text !== null) {
      if (this.only) throw documentRequired();
      return text;
    }
    if (id === null) throw documentRequired();
    const document = this.get(id);
    if (document === undefined) throw notFound(id);
    return document;
  }

  /** Yoga's persisted-operations plugin over this store, for HTTP and SSE. */
  plugin(): Plugin {
    return usePersistedOperations({
      getPersistedOperation: (id) => this.get(id) ?? null,
      extractPersistedOperationId: (params) => this.idOf(params as DocumentRequest),
      allowArbitraryOperations: !this.only,
      customErrors: {
        notFound: ({ params }) => notFound(this.idOf(params as DocumentRequest) ?? ''),
        keyNotFound: documentRequired,
        persistedQueryOnly: documentRequired,
      },
    });
  }
}

const documentRequired = () =>
  new AppError(
    ErrorCode.PERSISTED_DOCUMENT_REQUIRED,
    'This server runs trusted documents only: send a documentId from its persisted-documents manifest',
  );

const notFound = (id: string) =>
  new AppError(ErrorCode.PERSISTED_DOCUMENT_NOT_FOUND, `No trusted document has the id ${id}`);
