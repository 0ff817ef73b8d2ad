/**
 * How a row shows an instant: the pages write `2026-11-24 09:05 UTC`, the CLI ISO 8601. The rows
 * (describe-*.ts) leave that choice to their reader; an absent time is an empty string.
 */
export type TimeFormat = (ms: number | null | undefined) => string;
