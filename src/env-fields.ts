import { z } from 'zod';

/** An environment variable that is unset when missing or blank, trimmed otherwise (config.ts and its parts). */
export const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));
