"""Reports and KPIs over GraphQL: the portfolio report (report:read), scorecards (scorecard:read)
and the champion/challenger comparison of a strategy (strategy:read), each counting only the
cases its caller may see."""
