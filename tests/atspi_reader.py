"""Reads a running application over AT-SPI, as a screen reader does, and prints JSON.

This runs under the system python (`/usr/bin/python3`), which has pyatspi from the
distribution; it imports nothing of the kiosk, and nothing in it talks to Qt. It finds the
application on the AT-SPI registry by name (and process id, when given) and asks each
accessible object for its role, name, description and states over D-Bus.

    atspi_reader.py ping                 the registry answers: {"apps": [names]}
    atspi_reader.py tree NAME [--all]    the application's tree: {"app", "pid", "tree"}
    atspi_reader.py focus NAME           the focused object: {"focus", "ancestors"}

A node is {"role", "name", "description", "labelled_by", "states", "children"}. `tree`
leaves out what is not showing (the screens stacked behind the current one, hidden messages),
as a screen reader would, unless `--all` is given. Exit status: 0 answered, 3 the registry
did not answer, 4 the application was not found, both within `--wait` seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pyatspi

MAX_DEPTH = 60  # a Qt window is a dozen levels deep; this only stops a runaway walk
MAX_NODES = 5000


def states_of(accessible) -> list[str]:
    return sorted(pyatspi.stateToString(s) for s in accessible.getState().getStates())


def labelled_by(accessible) -> list[str]:
    """Names of the labels that say what this control is (Qt's buddy labels). A screen
    reader announces them with, or instead of, the control's own name."""
    names = []
    for relation in accessible.getRelationSet():
        if relation.getRelationType() == pyatspi.RELATION_LABELLED_BY:
            for index in range(relation.getNTargets()):
                names.append(relation.getTarget(index).name or "")
    return names


def describe(accessible) -> dict:
    return {
        "role": accessible.getRoleName(),
        "name": accessible.name or "",
        "description": accessible.description or "",
        "labelled_by": labelled_by(accessible),
        "states": states_of(accessible),
    }


def children_of(accessible) -> list:
    found = []
    for index in range(accessible.childCount):
        child = accessible.getChildAtIndex(index)
        if child is not None:
            found.append(child)
    return found


def walk(accessible, *, everything: bool, budget: list[int], depth: int = 0) -> dict:
    node = describe(accessible)
    node["children"] = []
    if depth >= MAX_DEPTH:
        return node
    for child in children_of(accessible):
        budget[0] -= 1
        if budget[0] < 0:
            break
        if everything or "showing" in states_of(child):
            node["children"].append(walk(child, everything=everything, budget=budget,
                                         depth=depth + 1))
    return node


def find_focus(accessible, ancestors: list[dict], depth: int = 0):
    """The deepest showing descendant whose states include `focused`, with the role and name
    of each object above it (the application's window first)."""
    if depth >= MAX_DEPTH:
        return None
    best = None
    for child in children_of(accessible):
        states = states_of(child)
        if "showing" not in states:
            continue
        deeper = find_focus(child, ancestors + [{"role": child.getRoleName(),
                                                 "name": child.name or ""}], depth + 1)
        if deeper is not None:
            return deeper
        if "focused" in states and best is None:
            best = (child, ancestors)
    return best


def applications() -> list:
    desktop = pyatspi.Registry.getDesktop(0)
    return children_of(desktop)


def wait_for(find, seconds: float):
    """Call `find` until it returns something other than None, or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = find()
        except Exception:  # the registry or the application is not answering yet
            found = None
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def find_app(name: str, pid: int | None):
    for app in applications():
        if app.name == name and (pid is None or app.get_process_id() == pid):
            showing = [c for c in children_of(app) if "showing" in states_of(c)]
            return app if showing else None  # registered, but no window shown yet
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["ping", "tree", "focus"])
    parser.add_argument("name", nargs="?", help="the application's name on the registry")
    parser.add_argument("--pid", type=int, help="only the application with this process id")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait (10)")
    parser.add_argument("--all", action="store_true", help="include what is not showing")
    args = parser.parse_args(argv)
    apps = wait_for(lambda: [a.name for a in applications()], args.wait)
    if apps is None:
        print(json.dumps({"error": "the AT-SPI registry did not answer"}))
        return 3
    if args.command == "ping":
        print(json.dumps({"apps": apps}))
        return 0
    if not args.name:
        parser.error("tree and focus need the application's name")
    app = wait_for(lambda: find_app(args.name, args.pid), args.wait)
    if app is None:
        print(json.dumps({"error": f"no application {args.name!r} with a window showing",
                          "apps": [a.name for a in applications()]}))
        return 4
    if args.command == "tree":
        tree = walk(app, everything=args.all, budget=[MAX_NODES])
        print(json.dumps({"app": app.name, "pid": app.get_process_id(), "tree": tree}))
        return 0
    found = find_focus(app, [])
    focus, ancestors = found if found is not None else (None, [])
    print(json.dumps({"focus": describe(focus) if focus is not None else None,
                      "ancestors": ancestors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
