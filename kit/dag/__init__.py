"""The workspace DAG as kit reads it: nodes, edges and lineage (graph), and its layout."""

from kit.dag.graph import DagGraph, NodeInfo

__all__ = ["DagGraph", "NodeInfo"]
