"""A plan that uses every part of the richer model: shared properties, property aliases, pages
and screens with properties, group traits and an event with two versions."""

from __future__ import annotations

from trackwell.plan import Plan, parse_plan

RICH_PLAN = """\
trackwell: 1
name: Rich
version: 3
properties:
  plan_name:
    type: string
    description: The plan the workspace is on.
    enum: [starter, pro, team]
    aliases: [plan]
  workspace_id:
    type: string
    required: true
traits:
  email: {type: string, format: email}
  plan_name: {use: plan_name}
group:
  traits:
    workspace_name: {type: string, required: true}
    seats: {type: integer, minimum: 1, aliases: [seat_count]}
    plan_name: {use: plan_name}
events:
  Subscription Started:
    stage: Expansion
    description: The workspace started paying.
    properties:
      workspace_id: {use: workspace_id}
      plan_name: {use: plan_name, required: true}
      billing_period: {type: string, enum: [monthly, annual], aliases: [period]}
  Checkout Completed:
    stage: Expansion
    description: An order was paid.
    properties:
      order_id: {type: string, required: true}
    versions:
      v1:
        description: Totals as text, before the currency migration.
        deprecated: true
        properties:
          total: {type: string, required: true}
      v2:
        properties:
          total_cents: {type: integer, minimum: 0, required: true}
          currency: {type: string, enum: [EUR, USD], required: true}
pages:
  Home:
  Pricing:
    description: The pricing table.
    properties:
      plan_name: {use: plan_name, description: The plan whose column was open.}
      billing_period: {type: string, enum: [monthly, annual]}
screens:
  Dashboard:
    properties:
      workspace_id: {use: workspace_id}
  Settings:
"""


def rich_plan() -> Plan:
    """The rich plan, parsed."""
    return parse_plan(RICH_PLAN, "rich-plan.yaml")
