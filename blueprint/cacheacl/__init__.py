"""ElastiCache RBAC access strings evaluated by a real, throwaway ``redis-server``."""
