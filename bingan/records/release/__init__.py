"""Copying and printing (复印打印): copy rules, copy requests with fees, the copy job, the print register."""
