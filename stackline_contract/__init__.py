"""Rules every Stackline process applies the same way: what a repository and a commit are.

`stackline_infra` is plumbing; what names a thing of the domain lives here, once.
"""
