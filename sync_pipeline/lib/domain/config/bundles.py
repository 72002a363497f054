"""`bundles.yaml`: bundle SKUs sold as one Shopify line but picked as several components.

Nesting is allowed (a gift box may contain a starter pack): a component that is itself a
bundle is expanded too. A cycle (a bundle containing itself directly or through others)
would expand forever, so it is an error, as is a component listed twice in one bundle.
"""

from __future__ import annotations

from pydantic import Field

from .base import RulesModel, SemanticProblem, Sku, Text


class BundleComponent(RulesModel):
    sku: Sku
    quantity: int = Field(ge=1)


class BundleSpec(RulesModel):
    title: Text | None = None
    components: list[BundleComponent] = Field(min_length=1)


class BundlesConfig(RulesModel):
    bundles: dict[Sku, BundleSpec] = Field(default_factory=dict)

    def is_bundle(self, sku: str) -> bool:
        return sku in self.bundles

    def semantic_problems(self) -> list[SemanticProblem]:
        return [*self._duplicate_components(), *self._cycles()]

    def _duplicate_components(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        for bundle_sku, spec in self.bundles.items():
            seen: set[str] = set()
            for index, component in enumerate(spec.components):
                if component.sku in seen:
                    problems.append(
                        SemanticProblem(
                            ("bundles", bundle_sku, "components", index, "sku"),
                            f"component {component.sku!r} is listed twice; give it once with the total quantity",
                        )
                    )
                seen.add(component.sku)
        return problems

    def _cycles(self) -> list[SemanticProblem]:
        """One problem per bundle that can reach itself, naming the loop."""
        problems: list[SemanticProblem] = []
        for start in self.bundles:
            loop = self._loop_back_to(start)
            if loop is None:
                continue
            first_hop = loop[1]
            index = next(i for i, c in enumerate(self.bundles[start].components) if c.sku == first_hop)
            chain = " → ".join(loop)
            message = (
                f"bundle {start!r} contains itself ({chain})"
                if len(loop) == 2
                else f"bundle {start!r} contains itself through other bundles ({chain})"
            )
            problems.append(SemanticProblem(("bundles", start, "components", index, "sku"), message))
        return problems

    def _loop_back_to(self, start: str) -> list[str] | None:
        """Shortest path start → … → start through bundle components, if there is one."""
        frontier: list[list[str]] = [[start]]
        visited: set[str] = set()
        while frontier:
            next_frontier: list[list[str]] = []
            for path in frontier:
                for component in self.bundles[path[-1]].components:
                    if component.sku == start:
                        return [*path, start]
                    if component.sku in self.bundles and component.sku not in visited:
                        visited.add(component.sku)
                        next_frontier.append([*path, component.sku])
            frontier = next_frontier
        return None
