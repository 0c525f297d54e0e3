"""The ``attribution`` field's types: the multi-touch report of
``POST /api/v1/attribution`` (docs/attribution.md), in GraphQL's names."""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from domain import multi_touch
from graphql_api.fields import field as described
from graphql_api.scalars import DateBound
from graphql_api.types import TimeFrame

# The domain's enums, published under GraphQL names: one list of models, dimensions and
# transforms for both faces, so a value added to the domain is in the schema (and the
# export check) at once. strawberry marks the wrapped class itself, so each domain enum
# must be wrapped here only, under this one name.
AttributionDimension: TypeAlias = multi_touch.Dimension
AttributionModel: TypeAlias = multi_touch.Model
PathTransform: TypeAlias = multi_touch.PathTransform
strawberry.enum(
    multi_touch.Dimension,
    name="AttributionDimension",
    description="What the credit is given to: a session's channel, source...",
)
strawberry.enum(
    multi_touch.Model,
    name="AttributionModel",
    description="An attribution model (docs/attribution.md).",
)
strawberry.enum(
    multi_touch.PathTransform,
    name="PathTransform",
    description="How repeated values in a path are treated.",
)


@strawberry.input(
    description=(
        "The attribution parameters of `POST /api/v1/attribution`. The window is on "
        "conversion time: the 30 days up to now by default, at most 90 (a longer one is "
        "kept ending at `endDate`). Every field is optional."
    )
)
class AttributionFilter:
    start_date: DateBound | None = None
    end_date: DateBound | None = None
    conversion_page: str | None = None
    meta_type: str | None = None
    meta_id: str | None = None
    lookback_days: int | None = None
    dimension: AttributionDimension | None = None
    models: list[AttributionModel] | None = None
    path_transform: PathTransform | None = None
    half_life_days: float | None = None

    def to_parameters(self) -> dict[str, object]:
        """The filter under REST's names, for the same parser as REST."""
        return {
            "start_date": self.start_date,
            "end_date": self.end_date,
            "conversion_page": self.conversion_page,
            "meta_type": self.meta_type,
            "meta_id": self.meta_id,
            "lookback_days": self.lookback_days,
            "dimension": None if self.dimension is None else self.dimension.value,
            "models": None if self.models is None else [m.value for m in self.models],
            "path_transform": None if self.path_transform is None else self.path_transform.value,
            "half_life_days": self.half_life_days,
        }


@strawberry.type
class AttributionTotals:
    conversions: int
    converting_users: int
    revenue: float
    average_path_length: float
    non_converting_paths: int


@strawberry.type(description="What one model credits to a value.")
class ModelCredit:
    model: AttributionModel
    conversions: float
    revenue: float


@strawberry.type
class AttributionRow:
    value: str
    touches: int = strawberry.field(description="Counting conversions whose path holds the value.")
    credits: list[ModelCredit] = strawberry.field(
        description="One per model, in the order the models were asked for."
    )


@strawberry.type
class PathCount:
    path: list[str]
    conversions: int
    revenue: float


@strawberry.type(
    name="AttributionReport",
    description="The multi-touch report: the same numbers as `POST /api/v1/attribution`.",
)
class AttributionReportResult:
    report: strawberry.Private[multi_touch.AttributionReport]

    @strawberry.field
    def time_frame(self) -> TimeFrame:
        return TimeFrame.of(self.report.time_frame)

    @strawberry.field
    def lookback_days(self) -> int:
        return self.report.lookback_days

    @strawberry.field
    def dimension(self) -> AttributionDimension:
        return self.report.dimension

    @strawberry.field
    def models(self) -> list[AttributionModel]:
        return list(self.report.models)

    @strawberry.field
    def summary_totals(self) -> AttributionTotals:
        s = self.report.summary
        return AttributionTotals(
            conversions=s.conversions,
            converting_users=s.converting_users,
            revenue=s.revenue,
            average_path_length=s.average_path_length,
            non_converting_paths=s.non_converting_paths,
        )

    @described("Ordered by the first model's conversions, then by value.")
    def rows(self) -> list[AttributionRow]:
        return [
            AttributionRow(
                value=row.value,
                touches=row.touches,
                credits=[
                    ModelCredit(
                        model=c.model,
                        conversions=c.conversions,
                        revenue=c.revenue,
                    )
                    for c in row.credits
                ],
            )
            for row in self.report.rows
        ]

    @described("The 20 most frequent paths of counting conversions.")
    def top_paths(self) -> list[PathCount]:
        return [
            PathCount(path=list(p.path), conversions=p.conversions, revenue=p.revenue)
            for p in self.report.top_paths
        ]
