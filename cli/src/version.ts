/**
 * The version of the CLI package, as `--version` prints it.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"

/**
 * Reads `version` from the package's own package.json. The package refers to itself by name, which Node resolves
 * the same way from the built `dist/bin.js`, from the sources under tsx and from a bundle in the checkout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readVersion = (): string => {
  const manifest: unknown = createRequire(import.meta.url)("grok-resilience-cli/package.json")
  const version = typeof manifest === "object" && manifest !== null ? (manifest as { version?: unknown }).version : null
  if (typeof version !== "string" || version === "") {
    throw new Error("grok-resilience-cli/package.json has no version: the installation is damaged")
  }
  return version
}
