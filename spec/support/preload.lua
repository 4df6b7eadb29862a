-- Run by busted before any spec file (.busted: helper). Busted unloads the
-- modules each spec file loaded when the file ends; luv (1.44) crashes when
-- it is required again after its first instance was collected, so it is
-- loaded here once, for the whole run, when it is installed.
pcall(require, "luv")
