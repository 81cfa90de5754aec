"""What every Stackline service is built with: settings, database, gRPC, errors, metrics, logs.

Holds no domain logic; services meet each other only through proto/.
"""
