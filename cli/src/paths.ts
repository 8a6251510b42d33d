/**
 * The file a path really names, for the results file and its lock: two runs that reach one file through a symbolic
 * link and through its real path must see the same lock, and a rewrite must replace the file, not the link.
 *
 * @since 0.2.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

/** Linux gives up after 40 links in a row (ELOOP); so do we. */
const MAX_LINKS = 40

const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code

/**
 * The absolute path of the file `path` names once every symbolic link is followed, also when the file does not exist
 * yet or `path` is a link to a file that does not exist yet (then the file that writing would create). Throws what
 * the filesystem throws for a missing directory.
 *
 * @since 0.2.0
 * @category resolving
 */
export const resolveTarget = (path: string): string => {
  let current = Path.resolve(path)
  for (let links = 0; links <= MAX_LINKS; links++) {
    try {
      return Fs.realpathSync(current)
    } catch (error) {
      if (codeOf(error) !== "ENOENT") throw error
    }
    let isLink: boolean
    try {
      isLink = Fs.lstatSync(current).isSymbolicLink()
    } catch (error) {
      if (codeOf(error) !== "ENOENT") throw error
      return Path.join(Fs.realpathSync(Path.dirname(current)), Path.basename(current))
    }
    if (!isLink) return Path.join(Fs.realpathSync(Path.dirname(current)), Path.basename(current))
    current = Path.resolve(Path.dirname(current), Fs.readlinkSync(current))
  }
  throw new Error(`too many symbolic links from ${path}`)
}
