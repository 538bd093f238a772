"""The throwaway PostgreSQL cluster lives in ``deploy/postgres_cluster.py`` (``make
cluster`` starts one too); the tests import it from here."""

from deploy.postgres_cluster import PostgresCluster, find_pg_bin, postgres_cluster

__all__ = ["PostgresCluster", "find_pg_bin", "postgres_cluster"]
