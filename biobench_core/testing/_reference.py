"""``check_reference``: load a reference (published results) through the registry and check its bundle."""

from __future__ import annotations

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_reference"]


def check_reference(name: str) -> Report:
    """Check the reference ``name`` (through the current registry); return a :class:`Report`.

    Checks: the name resolves to a :class:`~biobench_core.contract._specs.ReferenceSpec` whose factory imports and
    returns a bundle the core reads (``biobench-reference`` schema: every figure finite, every checkpoint listed,
    one figure per backbone and task); the bundle records where its figures come from (repository, commit,
    licence); every backbone id is well formed; every task it has figures for declares a profile for the
    reference's protocol where the task is installed (a warning otherwise: its rows would never be shown).
    """
    from biobench_core.contract._catalog import resolve_task
    from biobench_core.contract._extensions import reference_spec
    from biobench_core.contract._protocols import ProtocolError, profile_of
    from biobench_core.contract._specs import split_id
    from biobench_core.results._published import read_reference

    report = Report(f"reference {name}")
    try:
        spec = reference_spec(name)
        bundle = spec.load()()
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"reference {name!r} does not load: {exception_line(exc)}")
        return report
    report.ok_("load", spec.factory)
    try:
        reference = read_reference(bundle, f"reference {name}")
    except Exception as exc:  # noqa: BLE001
        report.fail("bundle", exception_line(exc))
        return report
    n_figures = sum(len(group) for group in reference.figures.values())
    report.ok_("bundle", f"{n_figures} figures on {len(reference.figures)} tasks under protocol {reference.protocol}")
    missing = [key for key in ("repository", "commit", "license") if not reference.source.get(key)]
    if missing:
        report.fail("source", f"the bundle's 'source' lacks {', '.join(missing)}: say where the figures come from")
    else:
        report.ok_("source", f"{reference.source['repository']} at {str(reference.source['commit'])[:7]}, "
                             f"{reference.source['license']} licence")
    bad = []
    for group in reference.figures.values():
        for figure in group:
            try:
                split_id(figure.backbone)
            except Exception as exc:  # noqa: BLE001
                bad.append(str(exc))
    if bad:
        report.fail("ids", bad[0])
    else:
        report.ok_("ids", f"{len(reference.unmapped)} checkpoint(s) unmapped (published/<checkpoint>)")
    without = []
    for task in sorted(reference.figures):
        try:
            profile_of(resolve_task(task), reference.protocol)
        except LookupError:
            continue  # not installed here: nothing to check
        except ProtocolError:  # installed, with no profile for the protocol
            without.append(task)
    if without:
        report.add("profiles", "warn", f"{', '.join(without)} declare no {reference.protocol} profile: their "
                                       "published rows are never shown")
    else:
        report.ok_("profiles", f"every installed task it has figures for declares a {reference.protocol} profile")
    return report
