package main

func runRegisterTask(c *cli, args []string) error { return nil }
func runJWT(c *cli, args []string) error          { return nil }
func runProvision(c *cli, args []string) error    { return nil }
func runStatus(c *cli, args []string) error       { return nil }
func runServe(c *cli, args []string) error        { return nil }
