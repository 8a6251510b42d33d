// Preloaded into a measured child (`node --import ./bench/support/usage-probe.mjs ...`): at exit, writes the
// process's own CPU time (user + system) and peak RSS to the file named by BENCH_USAGE_FILE.
import { writeFileSync } from "node:fs"

const file = process.env.BENCH_USAGE_FILE
if (file) {
  process.on("exit", () => {
    const cpu = process.cpuUsage()
    const usage = process.resourceUsage()
    writeFileSync(file, JSON.stringify({ cpuMillis: (cpu.user + cpu.system) / 1000, maxRssKiB: usage.maxRSS }))
  })
}
