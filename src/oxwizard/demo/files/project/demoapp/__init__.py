"""demoapp: a small application that uses oxzep7 (the oxwizard demo project)."""
