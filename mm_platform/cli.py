"""The `mm-platform` command: core's commands and those of every registered domain."""

from mm_platform.core.cli import build_cli
from mm_platform.domains import DOMAINS

main = build_cli(DOMAINS)

if __name__ == "__main__":
    main()
