"""Write-off and recovery (issue 11): a manager's write-off by the versioned policy, the core's
charge-off applied by the daily run (``store.writeoff_queries``), and the sale of a written-off
debt. A written-off case stays open for recovery: payments on it are recoveries."""
