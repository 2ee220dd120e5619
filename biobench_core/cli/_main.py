"""The ``biobench`` command line: list backbones, tasks and plugins; run, plan, status, merge; report; prune.

Each subcommand's work lives in its own module; this file only parses arguments and turns known errors into
one-line messages (exit 1 for failures, 2 for bad usage). Listing never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from biobench_core._version import __version__
from biobench_core.scaleout._config import OPTION_CHOICES as RUN_CHOICES
from biobench_core.scaleout._config import OPTION_DEFAULTS as RUN_DEFAULTS
from biobench_core.scaleout._config import OPTION_MINIMUM as RUN_MINIMUM
from biobench_core.cli._common import EXIT_FAILURE, EXIT_USAGE, UsageError
from biobench_core.cli._listing import EXTENSION_KINDS, _list, cmd_plugins
from biobench_core.cli._prune import cmd_prune
from biobench_core.cli._report import cmd_report
from biobench_core.cli._examples import add_examples_arguments, cmd_report_examples
from biobench_core.cli._running import _at_least, _gib, cmd_merge, cmd_run, cmd_status
from biobench_core.contract._errors import debug_enabled, one_line


def _data():  # noqa: ANN202 - a module
    from biobench_core.engine import _data as data

    return data


def _export():  # noqa: ANN202 - a module
    from biobench_core.cli import _export as export

    return export


def _kit():  # noqa: ANN202 - a module
    from biobench_core.cli import _validate as plugin_kit

    return plugin_kit


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``run`` and ``plan``."""
    p.add_argument("--config", metavar="FILE", help="a TOML file with [[backbone]], [[task]] and run options "
                                                    "(see examples/demo.toml); flags add to it, and a flag given "
                                                    "here always wins over the same option in the file")
    p.add_argument("--backbone", action="append", default=[], metavar="ID",
                   help="backbone id or unambiguous short name; repeat for a matrix")
    p.add_argument("--weights", action="append", default=[], metavar="W",
                   help="'pretrained' (default), 'random', a local file, or what the plugin documents; "
                        "one for all backbones or one per --backbone, in order")
    p.add_argument("--task", action="append", default=[], metavar="ID", help="task id or short name; repeatable")
    p.add_argument("--data", action="append", default=[], metavar="TASK=DIR", help="data folder of a task")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="task setting for every task, e.g. probe=simpleshot or subset=2000; every task must "
                        "accept it (a typo or a bad value is refused before any work)")
    p.add_argument("--protocol", metavar="NAME",
                   help="a named protocol: biobench (default: each task's own probe and metric) or one the tasks "
                        "declare, e.g. biobench-paper (upstream BioBench's published probes, metric conventions and "
                        "backbone options); its results are columns and rows of their own")
    p.add_argument("--results", metavar="DIR", help=f"results folder (default: ./{RUN_DEFAULTS['results']})")
    p.add_argument("--device", choices=RUN_CHOICES["device"],
                   help=f"where the backbone and the probes run (default: {RUN_DEFAULTS['device']})")
    p.add_argument("--dtype", choices=RUN_CHOICES["dtype"],
                   help=f"weights and inputs dtype (default: {RUN_DEFAULTS['dtype']}; bf16 roughly doubles ViT "
                        f"throughput on CPU)")
    p.add_argument("--batch-size", type=_at_least(RUN_MINIMUM["batch_size"]), metavar="N",
                   help="images per forward pass (default: chosen for the device: 32 on CPU; 256, 128 or 64 on a GPU "
                        "by its memory)")
    p.add_argument("--workers", type=_at_least(RUN_MINIMUM["workers"]), metavar="N",
                   help="DataLoader decoding processes; 0 decodes in this process (default: chosen for the machine: "
                        "0 on a CPU of 2 cores or fewer, a quarter of the cores on a larger CPU, all cores but one "
                        "(at most 16) with a GPU)")
    p.add_argument("--pixel-cache-gb", type=_gib, metavar="GIB",
                   help="GiB of decoded pixels kept in the cache folder, so backbones with the same resize and crop "
                        "decode each image once; 0 turns it off (default: $BIOBENCH_PIXEL_CACHE_GB or 50)")
    p.add_argument("--limit", type=_at_least(RUN_MINIMUM["limit"]), metavar="N",
                   help="smoke mode: first N examples per split; results are not comparable and hidden from reports")
    p.add_argument("--force", action="store_true", help="redo finished experiments (features still come from cache)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--on-bad-image", choices=RUN_CHOICES["on_bad_image"],
                   help="an undecodable image is skipped with a warning and counted (default), or fails the run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--executor", metavar="KIND",
                   help="run the matrix through workers of an installed executor: inprocess (in this process), "
                        "local (processes), slurm (Slurm jobs, with biobench-slurm), or a plugin's; 'biobench "
                        "plugins' lists them (default: the config's [executor] kind; without one, in this process "
                        "as before)")
    p.add_argument("--devices", metavar="0,1,...", help="local executor: one worker process per GPU index")
    p.add_argument("--jobs", type=_at_least(1), metavar="N",
                   help="how many workers run at once (local processes or Slurm array tasks)")


def build_parser(commands: dict[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="biobench",
        description="Which frozen vision backbone is best for biology? List, run and report benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"biobench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("backbones", help="list the backbones installed plugins offer")
    p.add_argument("patterns", nargs="*", metavar="PATTERN", help="fnmatch patterns over ids, e.g. 'vit_*'")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=commands["backbones"])

    p = sub.add_parser("tasks", help="list the tasks installed plugins offer")
    p.add_argument("patterns", nargs="*", metavar="PATTERN", help="fnmatch patterns over ids")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=commands["tasks"])

    p = sub.add_parser("plugins", help="list discovered plugins, working or failed, with the seconds each "
                                       "takes to import and to list; validate one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--kind", choices=EXTENSION_KINDS, help="list only the installed extensions of one kind, "
                                                           "with the plugin offering each")
    p.set_defaults(func=commands["plugins"])
    plugin_sub = p.add_subparsers(dest="plugins_command", metavar="validate")
    v = plugin_sub.add_parser("validate", help="run the conformance checks on an installed plugin distribution")
    v.add_argument("name", help="distribution name, e.g. biobench-timm")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=commands["validate"])

    p = sub.add_parser("install", help="pip-install a plugin into this environment and check that it is one")
    p.add_argument("name", help="a pip requirement or path, e.g. biobench-mymodel or ./biobench-mymodel")
    p.add_argument("pip_args", nargs=argparse.REMAINDER, help="further arguments for pip")
    p.set_defaults(func=commands["install"])

    p = sub.add_parser("run", help="extract features, fit probes, store results",
                       description="Run every --backbone on every --task. Finished experiments are skipped "
                                   "(--force redoes them); features are cached by content. With an [executor] "
                                   "table or --executor, workers (local processes or Slurm jobs) run the matrix; "
                                   "see docs/scaleout.md.")
    _add_run_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="print what is done, claimed, failed and left, with an "
                                                           "estimate of what is left costs; run nothing")
    p.set_defaults(func=commands["run"])

    p = sub.add_parser("plan", help="what a run would do: done, claimed, failed and left experiments, and the "
                                    "cost of what is left (run --dry-run)",
                       description="Print the matrix's experiments by state and estimate what is left from the "
                                   "images/s recorded by earlier runs of the same backbones. Runs nothing.")
    _add_run_arguments(p)
    p.set_defaults(func=commands["run"], dry_run=True)

    p = sub.add_parser("status", help="running, failed and done experiments in a results store",
                       description="Running (claimed by a live worker), failed (with attempts, host and error) "
                                   "and done experiments; with --config also those left.")
    p.add_argument("--protocol", metavar="NAME",
                   help="a named protocol: biobench (default: each task's own probe and metric) or one the tasks "
                        "declare, e.g. biobench-paper (upstream BioBench's published probes, metric conventions and "
                        "backbone options); its results are columns and rows of their own")
    p.add_argument("--results", metavar="DIR", help=f"results folder (default: the config's, else "
                                                    f"./{RUN_DEFAULTS['results']})")
    p.add_argument("--config", metavar="FILE", help="the run's config: also show what is left")
    p.add_argument("--traceback", action="store_true", help="print each failure's traceback")
    p.set_defaults(func=commands["status"])

    p = sub.add_parser("merge", help='merge the per-job result files of [executor] store = "files" into the store')
    p.add_argument("--results", default=RUN_DEFAULTS["results"], metavar="DIR",
                   help=f"results folder (default: ./{RUN_DEFAULTS['results']})")
    p.set_defaults(func=commands["merge"])

    p = sub.add_parser("report", help="leaderboard of stored results: each task's metric with its 95%% interval (Clopper-Pearson for accuracy, paired bootstrap widened to the error-count bound otherwise) and ties with the best (bootstrap step-down); 'report examples' drills down into the examples")
    p.add_argument("--results", action="append", metavar="DIR|BUNDLE",
                   help="a results folder or a bundle ('biobench export'); repeat to merge several into one "
                        "leaderboard (default: ./results); see docs/results-api.md")
    p.add_argument("--format", default="table", metavar="NAME",
                   help="the report format (default: table); 'biobench plugins --kind formats' lists the installed "
                        "ones, which plugins may add to")
    p.add_argument("--out", metavar="PATH", help="write to a file instead of standard output (bytes as they are, "
                                                 "for a binary format); replaces only a report biobench wrote, "
                                                 "never a database")
    p.add_argument("--force", action="store_true", help="let --out (and --plots) replace an existing file biobench "
                                                        "did not write (never a SQLite database or a feature-cache "
                                                        "file)")
    p.add_argument("--all", action="store_true", help="include not-comparable (--limit) runs")
    p.add_argument("--published", nargs="?", const="", metavar="NAME",
                   help="add published results (an installed reference: 'biobench plugins --kind references'; "
                        "default: the only one, BioBench's with biobench-tasks) as rows marked published, in the "
                        "columns run under their protocol on tasks it marks comparable")
    p.add_argument("--plots", metavar="DIR", help="also write the leaderboard's plots (per task, benchmark mean vs "
                                                  "cost, rank heatmap, learning curves, group splits) as PNG and "
                                                  "SVG into DIR; needs matplotlib (biobench-core[plots])")
    p.set_defaults(func=commands["report"])
    report_sub = p.add_subparsers(dest="report_command", metavar="examples")
    e = report_sub.add_parser("examples", help="the test examples one backbone gets right and another wrong on a "
                                               "task; --montage draws them, --confusion a confusion matrix",
                              description="List the test examples backbone A gets right and B gets wrong on a task, "
                                          "and the reverse (right: the predicted class is the true class), with "
                                          "their ids, files, true and predicted classes. Each backbone's result is "
                                          "the one the leaderboard shows. --montage draws them in a captioned grid; "
                                          "--confusion draws the first backbone's confusion matrix.")
    add_examples_arguments(e)
    e.set_defaults(func=commands["report-examples"])

    p = sub.add_parser("export", help="write a results store to one checksummed bundle file to share",
                       description="Write every result of --results, with its per-example predictions, data hash, "
                                   "settings, metric and provenance, to a versioned, checksummed bundle that "
                                   "'biobench report --results' and biobench_core.results.load read (see "
                                   "docs/results-api.md).")
    p.add_argument("--results", default="results", metavar="DIR", help="results folder (default: ./results)")
    p.add_argument("--out", required=True, metavar="FILE", help="the bundle to write, e.g. lab.biobench.json.gz")
    p.add_argument("--force", action="store_true", help="replace an existing file biobench did not write")
    p.set_defaults(func=commands["export"])

    p = sub.add_parser("prune", help="list the results newer code or data superseded; --yes deletes them",
                       description="A stored result is superseded when its report column's newest result came from "
                                   "other code (an edited task plugin, a new probe or metric version), or when the "
                                   "same backbone, weights, task and settings were run since on the same test "
                                   "examples with changed files or labels (see docs/identity.md). The newest result "
                                   "of anything is never deleted. Without --yes this only lists them (it works on a "
                                   "read-only store).")
    p.add_argument("--results", default="results", metavar="DIR", help="results folder (default: ./results)")
    p.add_argument("--yes", action="store_true", help="delete them, with their predictions, in one transaction")
    p.set_defaults(func=commands["prune"])

    p = sub.add_parser("data", help="each task's data: where it comes from; fetch and check it",
                       description="List each task's data source, size and license; download a task's data "
                                   "(resumable, checksummed, unpacked) and check that every file is there.")
    data_sub = p.add_subparsers(dest="data_command", metavar="{list,check,fetch}", required=True)
    d = data_sub.add_parser("list", help="each task's data source, size, license and whether fetch can get it")
    d.add_argument("patterns", nargs="*", metavar="PATTERN", help="fnmatch patterns over task ids")
    d.add_argument("--json", action="store_true", help="print a JSON list")
    d.set_defaults(func=commands["data-list"])
    d = data_sub.add_parser("check", help="build TASK over DIR and check that every example's file exists",
                            description="Exit 0 with a one-line summary (train and test examples, classes), or "
                                        "exit 1 with one line naming the first missing file or the task's error.")
    d.add_argument("task", metavar="TASK", help="task id or short name")
    d.add_argument("folder", metavar="DIR", help="the task's data folder")
    d.set_defaults(func=commands["data-check"])
    d = data_sub.add_parser("fetch", help="download TASK's data into DIR, verify, unpack and check it",
                            description="Download each file of TASK's data recipe into DIR (an interrupted "
                                        "download resumes when run again), verify its published sha256, unpack "
                                        "archives, then run 'biobench data check'. Exit 0 when the data checks "
                                        "out; exit 2, printing the steps, when the source needs a login or a "
                                        "licence click (public files of such a recipe are downloaded first).")
    d.add_argument("task", metavar="TASK", help="task id or short name")
    d.add_argument("--to", required=True, metavar="DIR", dest="folder", help="the folder to fill")
    d.add_argument("--keep-archives", action="store_true", help="keep archives after unpacking them")
    d.add_argument("--force", action="store_true", help="download and unpack again what DIR already has")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=commands["data-fetch"])
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "backbones": lambda args: _list(args, "backbone"),
    "tasks": lambda args: _list(args, "task"),
    "plugins": cmd_plugins,
    "run": cmd_run,
    "status": cmd_status,
    "merge": cmd_merge,
    "validate": lambda args: _kit().validate_main(args.name, args.json),
    "install": lambda args: _kit().install_main(args.name, args.pip_args),
    "report": cmd_report,
    "report-examples": cmd_report_examples,
    "export": lambda args: _export().cmd_export(args),
    "prune": cmd_prune,
    "data-list": lambda args: _data().list_main(args.patterns, args.json),
    "data-check": lambda args: _data().check_main(args.task, args.folder),
    "data-fetch": lambda args: _data().fetch_main(args.task, args.folder, keep_archives=args.keep_archives,
                                                  force=args.force, progress=not args.quiet),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
    args.parser = parser  # `status --config` re-parses its arguments as `plan`
    _one_line_warnings()
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"biobench {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("biobench: interrupted; finished results are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, never a bare traceback
        if debug_enabled():
            raise
        print(f"biobench {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE if getattr(exc, "exit_code", None) == EXIT_USAGE else EXIT_FAILURE  # e.g. SettingsError


def _one_line_warnings() -> None:
    """Warnings (a skipped image, an unwritable cache) as ``warning: ...`` lines, without source excerpts."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        print(f"warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


if __name__ == "__main__":
    sys.exit(main())
