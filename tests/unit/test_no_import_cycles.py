"""No module of ours imports itself back through others: the import graph has no circle, lazy imports included."""

import grimp

PACKAGES = ("domain", "commands", "projections", "sagas", "infra", "bench")


def import_circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        path = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        while path:
            module, imported = path[-1]
            for other in imported:
                if other not in index:
                    index[other] = lowlink[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    path.append((other, iter(sorted(graph.find_modules_directly_imported_by(other)))))
                    break
                if other in on_stack:
                    lowlink[module] = min(lowlink[module], index[other])
            else:
                path.pop()
                if path:
                    parent = path[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[module])
                if lowlink[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def test_no_module_imports_itself_back_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)

    circles = import_circles(graph)

    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(circle) for circle in circles)


def test_a_circle_is_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")

    assert import_circles(graph) == [["a.x", "a.y"]]
