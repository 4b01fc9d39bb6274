"""Time: the clock the engine reads, working days in the city's calendar, and the traffic lights."""
