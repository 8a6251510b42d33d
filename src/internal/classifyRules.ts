/**
 * The rules `GrokError.classify` applies: which wording means a wrong key or spent credits and on which statuses
 * xAI uses it, and which status means which reason.
 */
import * as Option from "effect/Option"

export const MAX_TEXT = 2_000

export const truncate = (text: string) =>
  text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length} chars)` : text

/** A key problem, written with a space ("API key"): `api_key` in a 400 names a request field, not our key. */
export const WRONG_KEY =
  /\b(incorrect|invalid|wrong|malformed|missing|no) api[ -]key\b|\bapi[ -]key (is )?(invalid|incorrect|not valid|missing)\b/i
export const CREDITS =
  /used all available credits|spending limit|\b(any|enough|no|insufficient|out of|exhausted) credits\b|purchase (more )?credits/i
/** Statuses whose text may say the key is wrong (xAI sends a wrong key as 400) or that credits are spent. */
export const KEY_STATUSES: ReadonlySet<number> = new Set([400, 401, 403])
export const CREDIT_STATUSES: ReadonlySet<number> = new Set([402, 403, 429])
export const HTML = /^\s*(<!doctype html|<html|<head|<body)/i

export const parseJson = (text: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(text))
  } catch {
    return Option.none()
  }
}

export const validationReason = (
  status: number
):
  | "BadRequest"
  | "NotFound"
  | "MethodNotAllowed"
  | "PayloadTooLarge"
  | "UnsupportedMediaType"
  | "Unprocessable"
  | undefined => {
  switch (status) {
    case 400:
      return "BadRequest"
    case 404:
      return "NotFound"
    case 405:
      return "MethodNotAllowed"
    case 413:
      return "PayloadTooLarge"
    case 415:
      return "UnsupportedMediaType"
    case 422:
      return "Unprocessable"
    default:
      return undefined
  }
}

export const transientReason = (
  status: number
): "RequestTimeout" | "Conflict" | "Overloaded" | "ServerError" | undefined => {
  if (status === 408) return "RequestTimeout"
  if (status === 409) return "Conflict"
  if (status === 503 || status === 529) return "Overloaded"
  if (status >= 500 && status <= 599) return "ServerError"
  return undefined
}
