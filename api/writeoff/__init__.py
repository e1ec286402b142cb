"""Write-off and recovery over GraphQL: writeOff and markDebtSold (case:write_off)."""
