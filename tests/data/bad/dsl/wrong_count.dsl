net x
{
  node A
  {
    TYPE = CPT;
    DEFINITION = { NAMESTATES = (yes, no); PROBABILITIES = (0.5, 0.5); };
  };
  node B
  {
    TYPE = CPT;
    PARENTS = (A);
    DEFINITION = { NAMESTATES = (yes, no); PROBABILITIES = (0.1, 0.9); };
  };
};
