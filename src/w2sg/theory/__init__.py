"""The paper's theory as numpy functions: accounting (Thm 3.1), ridge example (Thm 4.1), CE/RCE (Sec. 5)."""
